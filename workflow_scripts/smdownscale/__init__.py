"""Daily 1 km soil moisture by downscaling ESA CCI with ML members fused by BMA."""

__version__ = "0.1.0"
