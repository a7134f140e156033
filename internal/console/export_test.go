package console

import "time"

// SetLagSampleEvery shortens the lag sampler's period for consoles
// started after it, until restore.
func SetLagSampleEvery(d time.Duration) (restore func()) {
	old := lagSampleEvery
	lagSampleEvery = d
	return func() { lagSampleEvery = old }
}
