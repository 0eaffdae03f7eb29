"""The Volvo Cars surface of the simulator: Volvo ID sign-in, Connected Vehicle, Energy, Location."""
