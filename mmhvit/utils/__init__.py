from .runtime import enable_visualization, setup_launcher

__all__ = ['enable_visualization', 'setup_launcher']
