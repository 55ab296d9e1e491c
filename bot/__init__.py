"""Alumnibot: keeps mbo alumni connected to their school."""
