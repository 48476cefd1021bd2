package shardnet

import (
	"fmt"
	"os"
	"strings"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// LogEnv is the environment variable that sets the level of the logger a
// Stack makes when Config.Logger is nil.
const LogEnv = "SHARDNET_LOG"

// NewLogger returns the console logger shardnet uses by default: one line
// per event on standard error, at level, which is one of debug, info,
// warn, error or off (off gives a logger that discards everything; ""
// means info).
func NewLogger(level string) (*zap.Logger, error) {
	lv := strings.ToLower(strings.TrimSpace(level))
	switch lv {
	case "off", "none":
		return zap.NewNop(), nil
	case "":
		lv = "info"
	}
	l, err := zapcore.ParseLevel(lv)
	if err != nil || l > zapcore.ErrorLevel {
		return nil, fmt.Errorf("%w: log level %q: want debug, info, warn, error or off", ErrConfig, level)
	}
	zcfg := zap.NewProductionConfig()
	zcfg.Level = zap.NewAtomicLevelAt(l)
	zcfg.Encoding = "console"
	zcfg.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	zcfg.Sampling = nil // control-plane events are rare; never drop one
	zcfg.DisableStacktrace = l > zapcore.DebugLevel
	return zcfg.Build()
}

// envLogger is the logger for a Config without one: NewLogger at the
// level $SHARDNET_LOG names.
func envLogger() (*zap.Logger, error) {
	l, err := NewLogger(os.Getenv(LogEnv))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", LogEnv, err)
	}
	return l, nil
}
