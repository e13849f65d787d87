"""Discord on discord.py: ``/played`` (autocomplete), ``/recommend``, ``/trending``, ``/plays``,
``/undo``, ``/whoknows``, ``/top``, ``/recent``, ``/profile``, ``/neighbours``, ``/similar``,
``/taste``, ``/privacy``, ``/help`` and ``/tastemaker digest``.

``platform`` (what the registry sees, no SDK at import) · ``ids`` (server and member ids) ·
``commands`` (the app command tree and its handlers, autocomplete) · ``questions`` (``/played``'s
"did you mean …?" buttons) · ``plays`` (``/plays``' "Remove n" buttons) · ``embeds`` (rendering) ·
``help`` (``/help``'s entries, no SDK) · ``client`` (the client, API / gateway overrides, back-off,
refused token, serving in a thread) · ``digest`` (the digest sender) · ``sync`` (registering the
commands). Only this folder imports ``discord``.
"""
