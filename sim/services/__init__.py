"""Services stepped by the model beside the RTT list: diagnostics and the cancer pathway."""
