"""Presentation layer: number and date formats in the client's currency, and one theme.

Imports nothing above ``config``: every phase, chart and deliverable formats through here.
"""
