import os.path as osp
import sys

# tests/reference holds the independent reference implementations
sys.path.insert(0, osp.dirname(__file__))
