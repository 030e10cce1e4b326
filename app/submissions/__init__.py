"""The SKR submission package and the national hub that receives it."""
