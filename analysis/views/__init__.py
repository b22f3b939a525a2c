"""One view model per page: plain data (DataFrames, dataclasses) for everything a page shows.

A page callback parses its state, calls one function here and hands the result to a builder in components/;
the exports and the command line call the same functions, so a number on screen and in a file cannot differ.
Nothing here knows about Dash or plotly.
"""
