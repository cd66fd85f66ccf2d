"""The model and how it renders: network, ODE solver, fast session, enhancer, finishing, auto exposure."""
