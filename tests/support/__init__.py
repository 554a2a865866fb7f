"""Helpers the test modules share (imported as ``tests.support.<module>``): nothing here is a
test, and no test module imports from another test module or from a conftest."""
