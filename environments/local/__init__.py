"""The local environment: real backends and the reference stack, started on free ports.

Nothing here imports the keyword libraries: the stack is the system under test.
"""
