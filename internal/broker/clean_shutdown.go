package broker

import (
	"errors"
	"os"
	"path/filepath"

	"github.com/sluice-io/sluice/internal/fsutil"
)

// cleanShutdownFile marks a data dir whose logs were all closed (fsynced)
// without error, as Kafka's .kafka_cleanshutdown does. A broker that finds
// it opens the logs without recovery fsyncs, then removes it, durably,
// before anything can be appended: a crash after that point must not find
// a marker that vouches for unsynced data.
const cleanShutdownFile = ".kafka_cleanshutdown"

// takeCleanShutdownMarker reports whether dir holds the marker.
func takeCleanShutdownMarker(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, cleanShutdownFile))
	return err == nil
}

// dropCleanShutdownMarker removes the marker and makes the removal durable.
func dropCleanShutdownMarker(dir string) error {
	if err := os.Remove(filepath.Join(dir, cleanShutdownFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// writeCleanShutdownMarker records that every log in dir was closed
// cleanly; called only after all of them closed without error.
func writeCleanShutdownMarker(dir string) error {
	return fsutil.WriteFileAtomic(dir, cleanShutdownFile, []byte("sluice clean shutdown\n"))
}
