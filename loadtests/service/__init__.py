"""The reference grab service: ``hongbao serve``, its HTTP contract and its stores (memory, Redis)."""
