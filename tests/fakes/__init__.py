"""Loopback fakes of the Azure services, built from ../shared/azure-rest-specs."""
