"""nhs-reform-sim: NHS England reform scenarios against the waiting-time commitments."""

__version__ = "0.1.0"
