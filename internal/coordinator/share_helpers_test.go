package coordinator

import "maps"

// GroupConfigs serves group configs set with setGroupConfig.
func (b *memBackend) GroupConfigs(group string) map[string]string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return maps.Clone(b.groupConfigs[group])
}

func (b *memBackend) setGroupConfig(group, name, value string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.groupConfigs == nil {
		b.groupConfigs = map[string]map[string]string{}
	}
	if b.groupConfigs[group] == nil {
		b.groupConfigs[group] = map[string]string{}
	}
	b.groupConfigs[group][name] = value
}
