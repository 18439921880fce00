"""Bus-functional models, one family per interface, reused by every bench."""
from .pause import cycle_pause, random_pause
from .stream import PayloadCodec, StreamBus, StreamMonitor, StreamSink, StreamSource

__all__ = ["cycle_pause", "random_pause", "PayloadCodec", "StreamBus", "StreamMonitor", "StreamSink", "StreamSource"]
