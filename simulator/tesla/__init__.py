"""The Tesla Fleet API surface of the simulator: cars, REST and signed commands, billing."""
