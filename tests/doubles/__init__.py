"""Test doubles: scripted model servers for faults a real server will not produce on demand (429, garbage, hangs).

They live in the test tree, never in a library package; benchmarks import them with the repository root on sys.path.
"""
