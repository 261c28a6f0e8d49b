"""Test and benchmark support: real apt repositories and a real registry on loopback."""
