"""The atis command groups, one typer sub-app per module; ``atis.cli`` assembles them."""
