"""The simulated capture: a clothed subject built from the open body model (subject.py, outfit.py), its motion
under the capture protocol (motion.py), the K4A-like sensor (sensor.py, noise.py) and the frame source that
ties them (source.py)."""
