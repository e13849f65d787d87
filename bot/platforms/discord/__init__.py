"""Discord on discord.py: ``/played`` (autocomplete), ``/recommend``, ``/trending`` and
``/tastemaker digest``.

``platform`` (what the registry sees, no SDK at import) · ``ids`` (server and member ids) ·
``commands`` (the app command tree and its handlers, autocomplete) · ``embeds`` (rendering) ·
``client`` (the client, API / gateway overrides, back-off, refused token, serving in a thread) ·
``digest`` (the digest sender) · ``sync`` (registering the commands). Only this folder imports
``discord``.
"""
