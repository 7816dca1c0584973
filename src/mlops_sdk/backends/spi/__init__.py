"""Service protocols (SPI): one module per capability, implemented by every backend."""
