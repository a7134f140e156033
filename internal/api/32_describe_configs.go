package api

import (
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/auth"
	"github.com/sluice-io/sluice/internal/config"
	"github.com/sluice-io/sluice/internal/server"
)

func init() { register(32, 0, 4, handleDescribeConfigs) }

// Kafka's ConfigResource types.
const (
	resourceTopic  = 2
	resourceBroker = 4
	resourceGroup  = 32 // GROUP: dynamic group configs (KIP-848, KIP-932)
)

func handleDescribeConfigs(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.DescribeConfigsRequest)
	resp := kmsg.NewPtrDescribeConfigsResponse()
	img := e.Meta.Image()
	z := authorizer(e, req)
	// Kafka answers the authorized resources first, in request order, then
	// the denied ones.
	var denied []kmsg.DescribeConfigsResponseResource
	for _, rr := range r.Resources {
		res := kmsg.NewDescribeConfigsResponseResource()
		res.ResourceType, res.ResourceName = rr.ResourceType, rr.ResourceName
		if res.ErrorCode = z.configDenied(int8(rr.ResourceType), rr.ResourceName, auth.OpDescribeConfigs); res.ErrorCode != 0 {
			denied = append(denied, res)
			continue
		}
		var entries []config.Entry
		switch rr.ResourceType {
		case resourceTopic:
			t := img.TopicsByName[rr.ResourceName]
			if t == nil {
				res.ErrorCode = kerr.UnknownTopicOrPartition.Code
				break
			}
			entries = config.DescribeTopic(e.Cfg, t.Configs)
		case resourceBroker:
			switch rr.ResourceName {
			case "":
				entries = e.Cfg.DescribeDynamicDefaults()
			case strconv.Itoa(int(e.NodeID)):
				entries = e.Cfg.Describe()
			default:
				res.ErrorCode = kerr.InvalidRequest.Code
				msg := "unexpected broker id " + rr.ResourceName
				res.ErrorMessage = &msg
			}
		case resourceGroup:
			if rr.ResourceName == "" {
				res.ErrorCode = kerr.InvalidRequest.Code
				msg := "Group name must not be empty"
				res.ErrorMessage = &msg
				break
			}
			// A group without configs (or that does not exist yet)
			// is described at the broker defaults, as Kafka does.
			entries = config.DescribeGroup(e.Cfg, img.GroupConfigs[rr.ResourceName])
		default:
			res.ErrorCode = kerr.InvalidRequest.Code
			msg := "unsupported resource type " + strconv.Itoa(int(rr.ResourceType))
			res.ErrorMessage = &msg
		}
		want := map[string]bool{}
		for _, n := range rr.ConfigNames {
			want[n] = true
		}
		for _, en := range entries {
			if rr.ConfigNames != nil && !want[en.Name] {
				continue
			}
			c := kmsg.NewDescribeConfigsResponseResourceConfig()
			c.Name = en.Name
			v := en.Value
			c.Value = &v
			if en.Sensitive || en.Null {
				c.Value = nil
			}
			c.ReadOnly, c.IsSensitive, c.Source = en.ReadOnly, en.Sensitive, kmsg.ConfigSource(en.Source)
			c.IsDefault = en.Source == config.SourceDefault
			c.ConfigType = kmsg.ConfigType(en.Type)
			if r.IncludeDocumentation && en.Doc != "" {
				doc := en.Doc
				c.Documentation = &doc
			}
			if r.IncludeSynonyms {
				for _, s := range en.Synonyms {
					sy := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
					sy.Name, sy.Source = s.Name, kmsg.ConfigSource(s.Source)
					if !en.Sensitive {
						sv := s.Value
						sy.Value = &sv
					}
					c.ConfigSynonyms = append(c.ConfigSynonyms, sy)
				}
			}
			res.Configs = append(res.Configs, c)
		}
		resp.Resources = append(resp.Resources, res)
	}
	resp.Resources = append(resp.Resources, denied...)
	return server.Ready(&server.Response{Msg: resp})
}
