"""Interatomic potentials and property models built on :class:`noether.atoms.Potential`."""
