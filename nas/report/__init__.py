"""Reading finished work: DataFrames and Pareto fronts, plots, descriptions, export."""
