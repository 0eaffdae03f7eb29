"""The Volteras API surface of the simulator."""
