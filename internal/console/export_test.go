package console

import "time"

// SetLagSampleEvery shortens the lag sampler's period for consoles
// started after it, until restore.
func SetLagSampleEvery(d time.Duration) (restore func()) {
	old := lagSampleEvery
	lagSampleEvery = d
	return func() { lagSampleEvery = old }
}

// SetRateSampleEvery shortens the rate sampler's period (topics' and the
// cluster's records/s) for consoles started after it, until restore.
func SetRateSampleEvery(d time.Duration) (restore func()) {
	old := rateSampleEvery
	rateSampleEvery = d
	return func() { rateSampleEvery = old }
}
