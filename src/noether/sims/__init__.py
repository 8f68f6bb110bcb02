"""Simulators that make data: gravitational n-body systems and MuJoCo rigid-body scenes."""
