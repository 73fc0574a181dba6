"""The HubSpot sandbox's model, one module per concern; ``sandbox.hubspot.state.HubSpotState``
composes them."""
