import { installTemporalRuntime } from '../../temporal/runtime';

// Each integration test file's workers log at TEMPORAL_LOG_LEVEL (default WARN): no worker-state INFO lines in the test output.
installTemporalRuntime();
