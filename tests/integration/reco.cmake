# The recommendation worker end to end (test_reco.sh): flags stored and published, views and
# purchases of a generated stream produce recommendations, two instances equal one, replay is
# identical. Included after integration.cmake (fragments are sorted by path).
shop_integration_test(integration_reco test_reco.sh)
