"""Amaranth components of the ATIS digital side, one block per module (see DESIGN.md §1)."""
