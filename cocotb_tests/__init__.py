"""cocotb benches (one ``test_<block>.py`` per block) and their bus-functional models (``bfm/``)."""

__all__: list[str] = []
