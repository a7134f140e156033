package metadata

import (
	"fmt"
	"strings"
)

// Describe renders r on one line for people (`sluice metadata inspect`),
// naming topic ids found in names. It never shows SCRAM salts or keys.
func Describe(r Record, names map[UUID]string) string {
	topic := func(id UUID) string {
		if name, ok := names[id]; ok {
			return fmt.Sprintf("%q (%s)", name, id)
		}
		return id.String()
	}
	switch r := r.(type) {
	case TopicRecord:
		return fmt.Sprintf("TopicRecord %q id %s", r.Name, r.ID)
	case PartitionRecord:
		return fmt.Sprintf("PartitionRecord topic %s partition %d leader %d replicas %v isr %v",
			topic(r.TopicID), r.Partition, r.Leader, r.Replicas, r.ISR)
	case PartitionChangeRecord:
		s := fmt.Sprintf("PartitionChangeRecord topic %s partition %d", topic(r.TopicID), r.Partition)
		if r.Leader != NoLeaderChange {
			s += fmt.Sprintf(" leader %d", r.Leader)
		}
		if r.Replicas != nil {
			s += fmt.Sprintf(" replicas %v", r.Replicas)
		}
		if r.ISR != nil {
			s += fmt.Sprintf(" isr %v", r.ISR)
		}
		if r.AddingReplicas != nil || r.RemovingReplicas != nil {
			s += fmt.Sprintf(" adding %v removing %v", r.AddingReplicas, r.RemovingReplicas)
		}
		return s
	case ConfigRecord:
		v := "(deleted)"
		if r.Value != nil {
			v = fmt.Sprintf("= %q", *r.Value)
		}
		kind := map[int8]string{ResourceTopic: "topic", ResourceBroker: "broker", ResourceGroup: "group"}[r.ResourceType]
		return fmt.Sprintf("ConfigRecord %s %q %s %s", kind, r.ResourceName, r.Name, v)
	case RemoveTopicRecord:
		return "RemoveTopicRecord topic " + topic(r.TopicID)
	case RegisterBrokerRecord:
		return fmt.Sprintf("RegisterBrokerRecord broker %d at %s:%d", r.BrokerID, r.Host, r.Port)
	case ProducerIdsRecord:
		return fmt.Sprintf("ProducerIdsRecord broker %d next producer id %d", r.BrokerID, r.NextProducerID)
	case UserScramCredentialRecord:
		return fmt.Sprintf("UserScramCredentialRecord user %q %s", r.Name, ScramMechanismName(r.Mechanism))
	case RemoveUserScramCredentialRecord:
		return fmt.Sprintf("RemoveUserScramCredentialRecord user %q %s", r.Name, ScramMechanismName(r.Mechanism))
	case AccessControlEntryRecord:
		return fmt.Sprintf("AccessControlEntryRecord id %s resource %d %q principal %q", r.ID, r.ResourceType, r.ResourceName, r.Principal)
	case RemoveAccessControlEntryRecord:
		return fmt.Sprintf("RemoveAccessControlEntryRecord id %s", r.ID)
	case FeatureLevelRecord:
		return fmt.Sprintf("FeatureLevelRecord %s = %d", r.Name, r.Level)
	case ClientQuotaRecord:
		var e []string
		for _, d := range r.Entity {
			name := "<default>"
			if d.Name != nil {
				name = *d.Name
			}
			e = append(e, d.Type+"="+name)
		}
		if r.Remove {
			return fmt.Sprintf("ClientQuotaRecord %s remove %s", strings.Join(e, ","), r.Key)
		}
		return fmt.Sprintf("ClientQuotaRecord %s %s = %v", strings.Join(e, ","), r.Key, r.Value)
	}
	return r.Type().String()
}
