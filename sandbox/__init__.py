"""Simulated QuickBooks Online and JAGGAER servers, and the data generator that seeds them."""
