"""The faces kmdav shows the world; each is mounted by :mod:`kmdav.app` and
none imports another."""
