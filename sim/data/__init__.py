"""Reference data shipped with sim (read through :mod:`sim.reference`).

Every file here names its source, in a ``source`` column or in SOURCES.md;
docs/DATA.md explains each one.
"""
