"""Slack on Bolt: ``/played``, ``/recommend``, ``/trending`` and ``/tastemaker help|plays|undo|digest``
and ``whoknows|top|recent|profile|privacy``, and the message buttons (``/played``'s question,
``/tastemaker plays``' "Remove").

``platform`` (what the registry sees, no SDK at import) · ``ids`` (workspace and member ids) ·
``app`` (the Bolt app: tiny listeners, ack first) · ``commands`` (parse → service call → render →
answer) · ``blocks`` (Block Kit rendering and escaping, help) · ``encoding`` (command text as
typed, mentions) · ``client`` (Web API and response_url clients, retries) · ``server`` (HTTP mode
server and Socket Mode) · ``digest`` (the digest sender) · ``manifest`` (the app manifest and the
scopes each Web API method needs). Only this folder imports ``slack_bolt`` /
``slack_sdk``.
"""
