/**
 * @dstream/core/testing: a virtual clock, in-memory inputs and helpers to run operator chains
 * batch by batch, plus the contract suite every OffsetStore passes.
 */
