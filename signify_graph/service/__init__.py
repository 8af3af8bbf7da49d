"""The service: the WebSocket protocol, the session core and its asyncio driver, the server.

For embedders, one level below the public API of :mod:`signify_graph`: these names may change
between minor versions. The layers, from the socket inwards, are in ``docs/ARCHITECTURE.md``.
"""
