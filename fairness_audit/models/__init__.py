"""Regression engines, their designs and their frozen results."""
