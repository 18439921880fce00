"""Pin maps of the prototype, as data: the DAC PMOD, the comparator input(s), and the FPAA-side wiring table.

PmodDA4 (Digilent, AD5628) J1 top row: 1 = ~SYNC, 2 = DIN, 3 = NC, 4 = SCLK, 5 = GND, 6 = VCC (3.3 V).
Its outputs VOUTA..VOUTH go to the FPAA inputs. The AN231E04 side is named after the AN231K04 kit's I/O cell
terminals; check them against the kit's user guide before wiring (they are not verifiable offline here).
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BoardPins", "PINS", "PMOD_DA4_ROW", "wiring_table"]

#: PmodDA4 J1 pins 1..4 by function.
PMOD_DA4_ROW = {"sync_n": 1, "din": 2, "sclk": 4}


@dataclass(frozen=True)
class BoardPins:
    """Where each prototype signal sits on one board: a (connector, number) plus connector pin names."""
    dac_connector: tuple[str, int]
    dac_pins: dict[str, str]              # function -> connector pin name
    comparator_connector: tuple[str, int]
    comparator_pins: tuple[str, ...]      # one per consensus comparator (head group)
    header_label: str                     # what the board's silkscreen calls the DAC header


PINS: dict[str, BoardPins] = {
    # iCEBreaker: PMOD1A (connector pmod 0) carries the PmodDA4; PMOD1B (pmod 1) pins 1..4 take comparators.
    "icebreaker": BoardPins(("pmod", 0), {f: str(n) for f, n in PMOD_DA4_ROW.items()},
                            ("pmod", 1), ("1", "2", "3", "4"), "PMOD1A"),
    # ULX3S: GPIO header J1, GP0..GP3 (top row, PMOD-compatible spacing) for the PmodDA4; GP4..GP7 comparators.
    "ulx3s-85f": BoardPins(("gpio", 0), {"sync_n": "0+", "din": "1+", "sclk": "3+"},
                           ("gpio", 0), ("4+", "5+", "6+", "7+"), "J1 GP0-GP3"),
}


def wiring_table(board: str, n_dac: int, heads: int) -> list[dict[str, str]]:
    """Rows: FPGA header pin -> PmodDA4 pin -> FPAA input; and FPAA comparator outputs -> FPGA pins."""
    pins = PINS[board]
    rows = [{"signal": f, "fpga": f"{pins.header_label} {pins.dac_connector[0]}{pins.dac_connector[1]}."
                                  f"{pins.dac_pins[f]}", "pmod_da4": f"J1.{PMOD_DA4_ROW[f]}", "fpaa": "-"}
            for f in ("sync_n", "din", "sclk")]
    channels = "ABCDEFGH"
    for c in range(n_dac):
        rows.append({"signal": f"VOUT{channels[c]}", "fpga": "-", "pmod_da4": f"VOUT{channels[c]}",
                     "fpaa": f"AN231K04 input cell for OTA group channel {c} (S/H per round when time-multiplexed)"})
    for h in range(heads):
        conn = pins.comparator_connector
        rows.append({"signal": f"comparator{h}", "fpga": f"{conn[0]}{conn[1]}.{pins.comparator_pins[h]}",
                     "pmod_da4": "-", "fpaa": f"AN231K04 comparator output of head group {h} (3.3 V logic)"})
    return rows
