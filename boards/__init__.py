"""Board support: platforms, pin maps, bitstream builds with timing/utilization reports, flashing."""
from .platforms import BOARDS, Board, BoardTop, get_board

__all__ = ["BOARDS", "Board", "BoardTop", "get_board"]
