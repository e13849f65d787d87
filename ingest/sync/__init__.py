"""Plays that arrive by themselves: linked ListenBrainz and Last.fm accounts, copied into their
member's community by the ``sync`` job (:mod:`ingest.sync.runner`) through small HTTP clients
(:mod:`ingest.sync.clients`). Links themselves are stored by :mod:`storage.links`."""
