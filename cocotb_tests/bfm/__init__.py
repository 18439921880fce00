"""Bus-functional models, one family per interface, reused by every bench (the FPAA BFM: ``bfm.fpaa``)."""
from .base import BfmBase, Bus, ReceiverBfm, SourceBfm
from .dac import Ad5628Bus, Ad5628Monitor, DacMonitor, DacUpdate, ParallelDacBus, ParallelDacMonitor
from .pause import cycle_pause, random_pause
from .stream import PayloadCodec, StreamBus, StreamMonitor, StreamSink, StreamSource
from .uart import UartFramingError, UartSink, UartSource

__all__ = ["BfmBase", "Bus", "ReceiverBfm", "SourceBfm",
           "Ad5628Bus", "Ad5628Monitor", "DacMonitor", "DacUpdate", "ParallelDacBus", "ParallelDacMonitor",
           "cycle_pause", "random_pause",
           "PayloadCodec", "StreamBus", "StreamMonitor", "StreamSink", "StreamSource",
           "UartFramingError", "UartSink", "UartSource"]
