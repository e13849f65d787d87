"""The console: the chat commands on stdin/stdout (``tastemaker chat``, the demo).

``platform`` (what the registry sees) · ``commands`` (parse → service call → render)."""
