package main

// tlsRecords is KGO_TEST_RECORDS of the kgo-tls pass (at most the plain
// pass's). That pass checks the transport, not volume: its time is
// mostly TestGroupETL and TestTxnEtl, which scale with the records, so
// fewer keep it to a minute or two. The whole binary runs: the tests that
// do not dial a broker take milliseconds, and filtering them out would
// only make the list of tests TLS covers drift from the suite's.
const tlsRecords = 5000
