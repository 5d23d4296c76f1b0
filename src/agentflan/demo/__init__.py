"""The synthetic demo world and the corpus it writes in upstream formats: a data source like any other."""
