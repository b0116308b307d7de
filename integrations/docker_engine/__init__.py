"""The Docker engine: images (build, test, push), deployments (containers, Swarm) and the
read-only inventory, all through one EngineConnection per engine (connection.py), whose
failures become opsloop's error tree in one place (failures.py).
"""
